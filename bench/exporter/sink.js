// A minimal OTLP/HTTP sink in its own process, so its work does not count against the
// exporter under test: it reads each request, counts bytes, answers 200 with an empty body.
import { createServer } from 'node:http';

let bytes = 0;
let requests = 0;
const server = createServer((req, res) => {
  if (req.method === 'GET') {
    res.end(JSON.stringify({ bytes, requests }));
    if (req.url === '/reset') bytes = requests = 0;
    return;
  }
  req.on('data', (chunk) => {
    bytes += chunk.length;
  });
  req.on('end', () => {
    requests++;
    res.writeHead(200, { 'content-type': 'application/x-protobuf' });
    res.end();
  });
});
server.listen(0, '127.0.0.1', () => {
  process.send?.({ port: server.address().port });
});
process.on('disconnect', () => process.exit(0));
