// Peer for bench/run: a Node `ws` broadcast server over TLS doing the
// same work as one SecureChat room: every text message a client sends is
// sent to every connected client (the sender too).
//   node server.js CERT.pem KEY.pem   (prints "listening on PORT")
'use strict';
const fs = require('fs');
const https = require('https');
const { WebSocketServer } = require('ws');

const [cert, key] = process.argv.slice(2);
const server = https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) });
const wss = new WebSocketServer({ server, perMessageDeflate: false });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    for (const client of wss.clients) {
      if (client.readyState === 1) client.send(data, { binary: isBinary });
    }
  });
});
server.listen(0, '127.0.0.1', () => console.log(`listening on ${server.address().port}`));
