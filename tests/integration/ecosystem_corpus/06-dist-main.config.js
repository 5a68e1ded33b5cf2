module.exports = {
  apps: [{ name: 'nest_service', script: './dist/main.js', env: { NODE_ENV: 'production' } }],
};
