# Cross-process, cross-language interop schema shared by the C++ peer vat (tests/interop/vat)
# and the C# interop tests. The exact server behaviour of every method is specified in
# tests/interop/README.md; both the C++ and the C# TestService implement it identically.
@0xb67e21ffa990ec73;

interface TestService {
  echo @0 (text :Text) -> (text :Text);
  # Returns `text` unchanged (byte for byte).

  add @1 (a :Int64, b :Int64) -> (sum :Int64);
  # Returns a + b with two's-complement wrap-around.

  fail @2 (kind :FailKind, message :Text) -> ();
  # Always throws an exception of type `kind` whose description is exactly `message`.

  echoCap @3 (cap :Callback) -> (cap :Callback);
  # Returns the same capability it was given (not a wrapper).

  callBack @4 (cb :Callback, value :Text) -> (reply :Text);
  # Calls cb.call(value) and returns its reply unchanged; an exception from cb propagates.

  getCounter @5 () -> (counter :Counter);
  # Returns a fresh Counter whose first increment() returns 1.

  echoCaps @6 (caps :List(Callback)) -> (caps :List(Callback));
  # Returns the same capabilities in the same order (a null entry stays null).

  waitForever @7 () -> ();
  # Never returns. Allows cancellation; each started call that is cancelled (Finish from the
  # caller, or the connection going away) adds one to the cancel count.

  getCancelCount @8 () -> (count :UInt32);
  # How many waitForever calls on this TestService instance were cancelled so far.

  stream @9 (chunk :Data) -> stream;
  # Streaming call: adds the chunk's length to the streamed byte total.

  getStreamedBytes @10 () -> (bytes :UInt64);
  # Total length of all chunks received by stream() on this instance.

  hold @11 (cap :Callback) -> ();
  # Keeps a reference to `cap` until dropAll() is called.

  dropAll @12 () -> ();
  # Drops every capability kept by hold(), so the peer sees the releases.
}

enum FailKind {
  failed @0;
  overloaded @1;
  disconnected @2;
  unimplemented @3;
}

interface Callback {
  call @0 (value :Text) -> (reply :Text);
}

interface Counter {
  increment @0 () -> (value :UInt32);
  # Returns 1 on the first call, then 2, 3, ... (calls are served in E-order).
}
