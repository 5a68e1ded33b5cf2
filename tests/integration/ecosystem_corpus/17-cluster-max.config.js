module.exports = {
  apps: [{ name: "speech", script: "index.js", instances: "max", exec_mode: "cluster" }]
};
