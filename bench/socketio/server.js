// COMPARISON CODE for bench/run.sh, not part of the chat product.
// socket.io's canonical chat (https://socket.io/get-started/chat), with rooms:
// each client joins the room named in its handshake query; a "chat message" goes
// to everyone in that room.
const { Server } = require("socket.io");

const port = Number(process.argv[2] || 3100);
const io = new Server(port, { serveClient: false });

io.on("connection", (socket) => {
  const room = String(socket.handshake.query.room || "general");
  socket.join(room);
  socket.on("chat message", (msg) => {
    io.to(room).emit("chat message", msg);
  });
});
console.log(`socket.io chat listening on ${port}`);
