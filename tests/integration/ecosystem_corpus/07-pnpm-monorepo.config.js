module.exports = {
  apps: [
    { name: 'web', cwd: './apps/web', script: 'pnpm', args: 'start',
      env: { NODE_ENV: 'production', PORT: 3000 }, instances: 1, autorestart: true,
      watch: false, max_memory_restart: '500M' },
    { name: 'api', cwd: './apps/api', script: 'pnpm', args: 'start',
      env: { NODE_ENV: 'production', PORT: 8080 }, instances: 1, autorestart: true,
      watch: false, max_memory_restart: '1G' },
  ],
};
