// An Express app as pm2 users write them (express comes from npm, through NODE_PATH).
const express = require('express');

const app = express();
app.get('/', (req, res) => res.json({framework: 'express', pid: process.pid,
                                      instance: process.env.NODE_APP_INSTANCE}));
const server = app.listen(Number(process.env.PORT || 3000), () => {
  console.log(`listening on port ${server.address().port}`);
});
