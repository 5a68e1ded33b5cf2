// Node's own cluster primary, for bench/balance.py: INSTANCES workers of SCRIPT, with
// Node's scheduling policy (NODE_CLUSTER_SCHED_POLICY=rr or none, read by Node itself).
const cluster = require('cluster');

cluster.setupPrimary({ exec: process.env.SCRIPT });
for (let i = 0; i < Number(process.env.INSTANCES); ++i) {
  cluster.fork({ NODE_APP_INSTANCE: String(i) });
}
process.on('SIGTERM', () => {
  for (const worker of Object.values(cluster.workers)) worker.process.kill('SIGTERM');
  cluster.on('exit', () => { if (Object.keys(cluster.workers).length === 0) process.exit(0); });
});
