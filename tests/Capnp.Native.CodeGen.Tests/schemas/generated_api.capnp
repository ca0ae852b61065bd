# The generated API of issue 12: assignment through returned builders, typed nested lists,
# generic parameters bound to any pointer type, and union members read while another is set.
@0x9bae803f89059c56;

using CSharp = import "/csharp.capnp";
$CSharp.namespace("CodeGenTests.Api");

struct Point {
  x @0 :Int32;
  y @1 :Int32;
}

struct Holder {
  point @0 :Point;
  points @1 :List(Point);
  textLists @2 :List(List(Text));
  intLists @3 :List(List(Int32));
  pointLists @4 :List(List(Point));
  deep @5 :List(List(List(Int32)));
  inGroup :group {
    inner @6 :Point;
  }
}

struct Box(T) {
  value @0 :T;
}

interface Echo {
  echo @0 (text :Text) -> (text :Text);
}

struct Boxes {
  text @0 :Box(Text);
  data @1 :Box(Data);
  ints @2 :Box(List(Int32));
  point @3 :Box(Point);
  any @4 :Box(AnyPointer);
  echo @5 :Box(Echo);
  texts @6 :Box(List(Text));
  store @7 :Box(Store(Text));
}

interface Store(T) {
  put @0 (value :T) -> (count :UInt32);
  get @1 () -> (value :T);
}

struct Choice {
  union {
    number @0 :Int32 = 7;
    label @1 :Text = "none";
    point @2 :Point;
    names @3 :List(Text);
    nothing @4 :Void;
  }
  tag @5 :UInt16;
}

# Assignment straight through what getters and indexers hand out (e.Point.X = 1): every kind of builder getter.
struct Node {
  x @0 :Int32;
  next @1 :Node;
}

struct Direct {
  point @0 :Point;
  node @1 :Node;
  grp :group {
    x @2 :Int32;
    inner @3 :Point;
  }
  points @4 :List(Point);
  ints @5 :List(Int32);
  names @6 :List(Text);
  pointLists @7 :List(List(Point));
  union {
    none @8 :Void;
    member @9 :Point;
  }
}
