module.exports = {
  apps: [{
    name: "hosting",
    script: "./bin/www",          // express's launcher: no extension
    watch: false,
    instances: 1,
    log_date_format: "YYYY-MM-DD HH:mm Z",
    exec_mode: "cluster",
    env: { NODE_ENV: "production" },
    env_production: { NODE_ENV: "production" },
  }],
};
