// A WebSocket echo server on Node's `ws` package, the contender of
// benches/ws-deflate.sh: permessage-deflate as ws does it by default when
// asked (zlib level 1, context takeover; ws refuses, with 400, a client
// that offers server_no_context_takeover then), or with no context
// takeover, as esockets does by default (--no-takeover), or off (--plain).
// Usage: node server.js PORT [--plain|--no-takeover]
"use strict";
const { WebSocketServer } = require("ws");

const port = Number(process.argv[2] || 9001);
const mode = process.argv[3] || "";
const perMessageDeflate =
  mode === "--plain"
    ? false
    : {
        zlibDeflateOptions: { level: 1 },
        // Compress every message, as esockets does from 128 B.
        threshold: 128,
        serverNoContextTakeover: mode === "--no-takeover",
        clientNoContextTakeover: mode === "--no-takeover",
      };
const server = new WebSocketServer({ host: "127.0.0.1", port, perMessageDeflate, maxPayload: 1 << 24 });
server.on("connection", (ws) => {
  ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
});
server.on("listening", () => console.log(`listening on 127.0.0.1:${port}`));
