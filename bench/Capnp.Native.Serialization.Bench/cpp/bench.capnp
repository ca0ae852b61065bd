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
