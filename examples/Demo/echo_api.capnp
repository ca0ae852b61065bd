@0xdcf2630020681762;

# The seed tutorial's first service (mirage/capnp-rpc, "A basic echo service").
interface Echo {
  ping @0 (msg :Text) -> (reply :Text);
}
