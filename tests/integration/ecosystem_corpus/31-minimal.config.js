module.exports = {
  apps: [{ name: "tts", script: "index.js", }]
}
