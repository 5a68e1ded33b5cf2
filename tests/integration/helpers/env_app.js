// Answers every request with what the worker was started with, as JSON.
const http = require('http');
const server = http.createServer((req, res) => {
  res.setHeader('Content-Type', 'application/json');
  res.end(JSON.stringify({
    pid: process.pid, argv: process.argv.slice(2), cwd: process.cwd(),
    execArgv: process.execArgv, env: {
      NODE_ENV: process.env.NODE_ENV, NODE_APP_INSTANCE: process.env.NODE_APP_INSTANCE,
      INSTANCE_ID: process.env.INSTANCE_ID, PORT: process.env.PORT, name: process.env.name,
      FROM_FILE: process.env.FROM_FILE,
    },
  }));
});
server.listen(Number(process.env.PORT || 0), () => {
  console.log(`listening on port ${server.address().port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
