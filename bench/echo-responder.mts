/** The other side of wakeup-cost.mts: answers every request on `wakeup.echo` with its payload. */
import { connect } from '@nats-io/transport-node';

const nc = await connect({ servers: process.argv[2] });
nc.subscribe('wakeup.echo', {
  callback: (_err, msg) => {
    msg.respond(msg.data);
  },
});
await nc.flush();
process.send?.('ready');
