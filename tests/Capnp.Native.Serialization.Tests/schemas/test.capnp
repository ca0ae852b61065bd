@0xd1b3c0a2e4f56789;

enum TestEnum { foo @0; bar @1; baz @2; qux @3; }

struct TestAll {
  voidField @0 :Void;
  boolField @1 :Bool;
  int8Field @2 :Int8;
  int16Field @3 :Int16;
  int32Field @4 :Int32;
  int64Field @5 :Int64;
  uint8Field @6 :UInt8;
  uint16Field @7 :UInt16;
  uint32Field @8 :UInt32;
  uint64Field @9 :UInt64;
  float32Field @10 :Float32;
  float64Field @11 :Float64;
  textField @12 :Text;
  dataField @13 :Data;
  structField @14 :TestAll;
  enumField @15 :TestEnum;

  voidList @16 :List(Void);
  boolList @17 :List(Bool);
  int8List @18 :List(Int8);
  int16List @19 :List(Int16);
  int32List @20 :List(Int32);
  int64List @21 :List(Int64);
  uint8List @22 :List(UInt8);
  uint16List @23 :List(UInt16);
  uint32List @24 :List(UInt32);
  uint64List @25 :List(UInt64);
  float32List @26 :List(Float32);
  float64List @27 :List(Float64);
  textList @28 :List(Text);
  dataList @29 :List(Data);
  structList @30 :List(TestAll);
  enumList @31 :List(TestEnum);
  nestedList @32 :List(List(Int32));

  union {
    unionInt @33 :Int32;
    unionText @34 :Text;
    unionVoid @35 :Void;
  }
  grp :group {
    gx @36 :UInt16;
    gy @37 :Text;
  }
  anyField @38 :AnyPointer;
}

struct TestDefaults {
  boolField @0 :Bool = true;
  int8Field @1 :Int8 = -123;
  int16Field @2 :Int16 = -12345;
  int32Field @3 :Int32 = -12345678;
  int64Field @4 :Int64 = -123456789012345;
  uint8Field @5 :UInt8 = 234;
  uint16Field @6 :UInt16 = 45678;
  uint32Field @7 :UInt32 = 3456789012;
  uint64Field @8 :UInt64 = 12345678901234567890;
  float32Field @9 :Float32 = 1234.5;
  float64Field @10 :Float64 = -123e45;
  textField @11 :Text = "foo";
  dataField @12 :Data = 0x"62 61 72";
  structField @13 :Inner = (a = 7, s = "inner default");
  enumField @14 :TestEnum = baz;
  int32List @15 :List(Int32) = [1, 2, 3];
  textList @16 :List(Text) = ["x", "yy"];
}

struct Inner {
  a @0 :Int32;
  s @1 :Text;
}

# Evolution pair
struct OldVersion {
  old1 @0 :Int64;
  old2 @1 :Text;
}
struct NewVersion {
  old1 @0 :Int64;
  old2 @1 :Text;
  new1 @2 :Int64 = 987;
  new2 @3 :Text = "newdef";
  new3 @4 :List(Int32);
}
struct UpgradeHolder {
  ints @0 :List(Int32);
  structs @1 :List(Inner);
  texts @2 :List(Text);
  wrapped @3 :List(TextWrapper);
}
struct TextWrapper { t @0 :Text; }

struct Node { value @0 :UInt32; next @1 :Node; }
struct Holder { caps @0 :List(Cap); cap @1 :Cap; }
interface Cap { }

const defInner :Inner = (a = 7, s = "inner default");
const defInts :List(Int32) = [1, 2, 3];
const defTexts :List(Text) = ["x", "yy"];
const defHolder :UpgradeHolder = (ints = [1, 2, 3], texts = ["x", "yy"]);

struct VersionLists {
  olds @0 :List(OldVersion);
  news @1 :List(NewVersion);
}
