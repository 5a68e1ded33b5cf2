module.exports = {
  apps: [
    { name: 'character', script: 'npm start', cwd: './character', instances: 1, autorestart: true,
      watch: false, max_memory_restart: '1G', env: { PORT: 4001 } },
    { script: 'npm run start' },
  ],
};
