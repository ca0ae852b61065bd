# The JSON annotations of /capnp/compat/json.capnp that JsonCodec applies, as capnp convert (C++ JsonCodec) does.
@0xf78f64f2646d3f32;
using CSharp = import "/csharp.capnp";
using Json = import "/capnp/compat/json.capnp";
$CSharp.namespace("CodeGenTests.Json");

enum Mood {
  happy @0 $Json.name("HAPPY");
  grumpy @1;
  sleepyHead @2 $Json.name("sleepy-head");
}

struct Renamed {
  fooBar @0 :Int32 $Json.name("foo_bar");
  plain @1 :Text;
  mood @2 :Mood $Json.name("the mood");
  moods @3 :List(Mood);
  inner @4 :Renamed $Json.name("nested");
  grp :group $Json.name("g") {
    x @5 :UInt8 $Json.name("x_x");
    y @6 :Text;
  }
  union {
    none @7 :Void $Json.name("nothing");
    count @8 :UInt32 $Json.name("n");
    label @9 :Text;
  }
  named :union $Json.name("choice") {
    a @10 :Int16 $Json.name("alpha");
    b @11 :Bool;
  }
}

struct Blobs {
  b64 @0 :Data $Json.base64;
  hex @1 :Data $Json.hex;
  plain @2 :Data;
  renamed @3 :Data $Json.base64 $Json.name("r");
  withDefault @4 :Data = 0x"0102" $Json.hex;
  union {
    none @5 :Void;
    bytes @6 :Data $Json.hex;
  }
  list @7 :List(Data);
}

struct Point { x @0 :Int32; y @1 :Int32; }

struct Flat {
  id @0 :UInt32;
  pos @1 :Point $Json.flatten();
  other @2 :Point $Json.flatten(prefix = "o_");
  meta :group $Json.flatten(prefix = "m.") {
    tag @3 :Text;
    count @4 :UInt16 $Json.name("n");
  }
  kind :union $Json.flatten() $Json.discriminator(name = "type") {
    circle @5 :Float64;
    square :group $Json.flatten() { side @6 :Float64; fill @7 :Text; }
    empty @8 :Void;
    point @9 :Point $Json.flatten(prefix = "p_");
  }
  shape :union $Json.discriminator(name = "shapeType", valueName = "value") {
    a @10 :Text;
    b @11 :Point;
  }
  plain :union $Json.discriminator(name = "which") {
    u @12 :Int8;
    v @13 :Void;
  }
}

struct Tagged $Json.discriminator(name = "t", valueName = "val") {
  union {
    text @0 :Text $Json.name("txt");
    num @1 :Int64;
    nothing @2 :Void;
  }
  common @3 :Bool;
}

struct Outermost {
  flat @0 :Flat $Json.flatten(prefix = "f_");
  tagged @1 :Tagged;
  tags @2 :List(Tagged);
}
