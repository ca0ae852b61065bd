# Imported by codegen_test.capnp; no csharp.capnp annotation, so the C# namespace comes from
# the file name (other_types.capnp -> OtherTypes).
@0xbce6ea6ff9027ae4;

struct Shared {
  id @0 :UInt64;
  note @1 :Text;
}

enum Level {
  low @0;
  high @1;
}
