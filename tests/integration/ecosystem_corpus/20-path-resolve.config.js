const path = require('path');
module.exports = {
  apps: [
    { name: 'pool-a', script: path.resolve(__dirname, 'src', 'pool-a.js'), cwd: path.resolve(__dirname),
      autorestart: true, watch: false },
    { name: 'pool-b', script: path.resolve(__dirname, 'src', 'pool-b.js'), cwd: path.resolve(__dirname),
      autorestart: true, watch: false },
  ],
};
