const loaded = require('dotenv').config();
module.exports = {
  apps: [{
    name: "graph",
    script: "./index.js",
    exec_mode: "cluster",
    instances: -1,
    env: { ...process.env },
  }],
};
