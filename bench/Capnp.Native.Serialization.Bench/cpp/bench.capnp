@0xb5f1c2d3e4a59687;
# Same layout as the hand-written offsets in ../Program.cs.
struct Person {
  id @0 :Int64;
  age @1 :Int32;
  score @2 :Float64;
  name @3 :Text;
  email @4 :Text;
  phones @5 :List(Phone);
}
struct Phone {
  kind @0 :UInt16;
  number @1 :Text;
}
struct Blob { data @0 :Data; }
# Issue #12: a list of 1,000 small structs (an Int64 and an enum each), built and read through generated code.
enum Kind { alpha @0; beta @1; gamma @2; delta @3; }
struct Inner {
  value @0 :Int64;
  kind @1 :Kind;
}
struct Outer { items @0 :List(Inner); }
