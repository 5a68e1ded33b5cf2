// Ready (process.send('ready')) only once the file GATE exists: a test holds replacements
// in the starting state for as long as it needs.
const fs = require('fs');
require('http').createServer((req, res) => res.end('ok\n')).listen(0);
const poll = setInterval(() => {
  if (fs.existsSync(process.env.GATE)) {
    clearInterval(poll);
    process.send('ready');
  }
}, 50);
