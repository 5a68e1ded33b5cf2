module.exports = {
  apps: [{ name: "chatbot", script: "index.js", "node_args": "--inspect=127.0.0.1:0" }]
};
