// A worker that starts a detached helper which ignores SIGTERM, prints the helper's pid, and
// crashes: what it leaves behind must not outlive it for long.
const { spawn } = require('child_process');

const helper = spawn('/bin/sh', ['-c', 'trap "" TERM; exec sleep 600'],
                     { detached: true, stdio: 'ignore' });
console.log(`helper ${helper.pid}`);
// Also one in its own process group that does not ignore SIGTERM.
const sibling = spawn('/bin/sleep', ['600'], { stdio: 'ignore' });
console.log(`sibling ${sibling.pid}`);
setTimeout(() => process.exit(1), 200);
