const services = ["frontend", "upload", "scheduler"];
module.exports = {
  apps: services.map((name) => ({
    name: `${name}-service`,
    script: "app.js",
    cwd: `./${name}-service`,
    watch: false,
    interpreter: "node",
    autorestart: true,
  })),
};
