# Covers every kind of node capnpc-csharp generates code for.
@0xafe5be1424bf8a05;

using CSharp = import "/csharp.capnp";
using Other = import "other_types.capnp";
$CSharp.namespace("CodeGenTests.Schema");

const answer :Int32 = 42;
const greeting :Text = "hello \"world\"";
const pi :Float64 = 3.14159;
const origin :Point = (x = 1, y = -2);
const primes :List(UInt32) = [2, 3, 5, 7];
const blob :Data = 0x"de ad be ef";
const favouriteColor :Color = blue;
const minLong :Int64 = -9223372036854775808;

enum Color {
  red @0;
  green @1;
  blue @2;
  lightGoldenrodYellow @3;
}

struct Point {
  x @0 :Int32;
  # Horizontal coordinate <in pixels> & more.
  y @1 :Int32;
}

# A struct with a field of every type, and fields with explicit defaults.
struct AllTypes {
  boolField @0 :Bool;
  int8Field @1 :Int8;
  int16Field @2 :Int16;
  int32Field @3 :Int32;
  int64Field @4 :Int64;
  uint8Field @5 :UInt8;
  uint16Field @6 :UInt16;
  uint32Field @7 :UInt32;
  uint64Field @8 :UInt64;
  float32Field @9 :Float32;
  float64Field @10 :Float64;
  textField @11 :Text;
  dataField @12 :Data;
  structField @13 :Point;
  enumField @14 :Color;
  int32List @15 :List(Int32);
  boolList @16 :List(Bool);
  textList @17 :List(Text);
  structList @18 :List(Point);
  enumList @19 :List(Color);
  listList @20 :List(List(Int32));
  dataList @21 :List(Data);
  anyField @22 :AnyPointer;
  voidField @23 :Void;

  intDefault @24 :Int32 = 123;
  boolDefault @25 :Bool = true;
  floatDefault @26 :Float32 = 1.5;
  textDefault @27 :Text = "def";
  structDefault @28 :Point = (x = 5, y = 6);
  listDefault @29 :List(Int16) = [1, 2, 3];
  enumDefault @30 :Color = green;
  dataDefault @31 :Data = "abc";
  negDefault @32 :Int8 = -7;
  doubleDefault @33 :Float64 = -2.25;

  imported @34 :Other.Shared;
  importedEnum @35 :Other.Level;
}

struct Shape {
  name @0 :Text;
  union {
    circle @1 :Float64;
    square @2 :Float64;
    rectangle :group {
      width @3 :Float64;
      height @4 :Float64;
    }
    nothing @5 :Void;
  }
  fill :union {
    rgb @6 :UInt32;
    named @7 :Color;
  }
  position :group {
    x @8 :Float64;
    y @9 :Float64;
  }
}

struct Outer {
  inner @0 :Inner;

  struct Inner {
    value @0 :Text;
    deeper @1 :Deeper;
    kind @2 :Kind;

    struct Deeper {
      n @0 :UInt8;
    }

    enum Kind {
      first @0;
      second @1;
    }

    const limit :UInt16 = 999;
  }
}

# Field names that are C# keywords or collide with generated members.
struct Keywords {
  class @0 :Int32;
  object @1 :Text;
  string @2 :Text;
  base @3 :Bool;
  event @4 :UInt16;
  keywords @5 :Int32;
  reader @6 :Int32;
  builder @7 :Int32;
  which @8 :Int32;
  union {
    int @9 :Int32;
    namespace @10 :Text;
  }
  dataWords @11 :Int32;
  renamed @12 :Int32 $CSharp.name("CustomName");
  raw @13 :Int32;
}

struct Box(T) {
  value @0 :T;
  label @1 :Text;
}

struct Pair(K, V) {
  key @0 :K;
  value @1 :V;
}

struct UsesGenerics {
  pointBox @0 :Box(Point);
  textBox @1 :Box(Text);
  pair @2 :Pair(Point, Other.Shared);
}

struct Renamed $CSharp.name("NiceName") {
  x @0 :Int32;
}

interface Calculator {
  add @0 (a :Int32, b :Int32) -> (sum :Int32);
  describe @1 (shape :Shape, tag :Text) -> (text :Text);
  getAdder @2 (base :Int64) -> (adder :Adder);
  echo @3 (string :Text, class :Int32) -> (string :Text, class :Int32);
  dispatch @4 () -> ();
  dispatchAsync @5 () -> ();
  getHolder @6 () -> (holder :HasCapabilities);

  interface Adder {
    addTo @0 (value :Int64) -> (result :Int64);
  }
}

interface ScientificCalculator extends(Calculator) {
  sqrt @0 (x :Float64) -> (y :Float64);
}

# A generic interface: its type parameter binds to a generated struct reader.
interface Store(T) {
  put @0 (value :T) -> (count :UInt32);
  get @1 () -> (value :T);
}

struct HasCapabilities {
  calculator @0 :Calculator;
  pointStore @1 :Store(Point);
}
