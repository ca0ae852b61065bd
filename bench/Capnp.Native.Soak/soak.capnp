@0xe808a01b29c9e087;
# The soak run's service: capabilities created, passed both ways and released, call after call.

interface Soak {
  echoCap @0 (ticker :Ticker) -> (ticker :Ticker);
  newTicker @1 () -> (ticker :Ticker);
  echo @2 (text :Text) -> (text :Text);
}

interface Ticker {
  tick @0 () -> (count :UInt64);
}
