// The peer's twin of bench/cloud/bench_functions.py: start the peer with PEER_CLOUD pointing here.
Parse.Cloud.define('benchEcho', (req) => ({ echo: req.params.n }));
