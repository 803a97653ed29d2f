// Preload of bench/request-maps-check.ts (with --allow-natives-syntax): counts the `/bare` requests
// a bench server finishes and how many of them, and of their responses, are in dictionary mode
// (%HasFastProperties false), and answers the check's IPC message `request-maps` with the counts
// (`reset`: from zero again).
import http from 'node:http';

const fast = new Function('a', 'return %HasFastProperties(a)');
const seen = { requests: 0, dictRequests: 0, dictResponses: 0 };

const emit = http.Server.prototype.emit;
http.Server.prototype.emit = function (event, req, res, ...rest) {
  if (event === 'request' && req.url === '/bare') {
    res.once('finish', () => {
      seen.requests++;
      if (!fast(req)) seen.dictRequests++;
      if (!fast(res)) seen.dictResponses++;
    });
  }
  return emit.call(this, event, req, res, ...rest);
};

process.on('message', (msg) => {
  if (msg?.type !== 'request-maps') return;
  if (msg.reset) Object.assign(seen, { requests: 0, dictRequests: 0, dictResponses: 0 });
  process.send?.({ id: msg.id, data: { ...seen } });
});
