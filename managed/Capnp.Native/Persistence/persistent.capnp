# The Cap'n Proto Persistence API as the OCaml capnp-rpc vats speak it (see
# capnp/persistent.capnp): a capability that implements Persistent answers `save` with its sturdy
# ref. The interface ID is the standard one; the generic parameters of the standard schema are
# AnyPointer here, and `sturdyRef` holds the capnp:// URI as Text (the seed's convention).
# Shipped with Capnp.Native so that every user of the library gets the generated types.
@0xa576b6b8033cfa32;

using CSharp = import "/csharp.capnp";
$CSharp.namespace("Capnp.Native.Persistence");

interface Persistent @0xc8cb212fcd9f5691 {
  save @0 (sealFor :AnyPointer) -> (sturdyRef :AnyPointer);
  # Returns the capability's sturdy ref: the capnp:// URI as Text. `sealFor` is ignored.
}
