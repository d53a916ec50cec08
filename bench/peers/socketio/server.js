// Peer for bench/run: a Socket.IO broadcast server over TLS doing the same
// work as one SecureChat room: every "m" event a client emits is emitted
// to every connected client (the sender too). WebSocket transport only, as
// the load generator speaks engine.io v4 over WebSocket.
//   node server.js CERT.pem KEY.pem   (prints "listening on PORT")
'use strict';
const fs = require('fs');
const https = require('https');
const { Server } = require('socket.io');

const [cert, key] = process.argv.slice(2);
const server = https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) });
const io = new Server(server, {
  transports: ['websocket'],
  perMessageDeflate: false,
  serveClient: false,
  // Runs are short; keep heartbeats out of the measurement.
  pingInterval: 120000,
  pingTimeout: 120000,
});
io.on('connection', (socket) => {
  socket.on('m', (body) => io.emit('m', body));
});
server.listen(0, '127.0.0.1', () => console.log(`listening on ${server.address().port}`));
