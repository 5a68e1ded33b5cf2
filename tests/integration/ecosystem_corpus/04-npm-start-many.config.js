module.exports = {
  apps: [
    { name: 'metro', cwd: 'metro', script: 'npm', args: 'start', instances: 1, exec_mode: 'fork',
      env: { NODE_ENV: 'development', NODE_OPTIONS: '--max_old_space_size=512' },
      max_memory_restart: '1G', error_file: '/tmp/metro-error.log', out_file: '/tmp/metro-out.log',
      time: true, merge_logs: false, autorestart: true, watch: false,
      ignore_watch: ['node_modules', '.expo'], max_restarts: 10, min_uptime: '5s',
      restart_delay: 3000, listen_timeout: 10000, kill_timeout: 5000 },
    { name: 'bff', cwd: 'bff', script: 'npm', args: 'start', instances: 1, exec_mode: 'fork',
      max_memory_restart: '500M', min_uptime: '5s', restart_delay: 3000 },
  ],
  deploy: { production: { user: 'someone', host: 'localhost', ref: 'origin/main', repo: 'local' } },
};
