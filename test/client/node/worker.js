'use strict'
/*
 * The Node test worker: examples/node/pgq-worker.js with a test handler.
 *
 *   PGQ_NODE_EXAMPLE=DIR node worker.js QUEUE [--wait S] [--lease S] [--once]
 *
 * DIR is a copy of examples/node with its node_modules installed (npm ci).
 * Connects through the PG* environment variables.  The handler keeps the
 * contract of test/client/python/worker.py (see there).
 */
const path = require('node:path')
const { createRequire } = require('node:module')
const { setTimeout: sleep } = require('node:timers/promises')

const exampleDir = process.env.PGQ_NODE_EXAMPLE
if (!exampleDir) throw new Error('PGQ_NODE_EXAMPLE is not set')
const requireExample = createRequire(path.join(path.resolve(exampleDir), 'package.json'))
const pg = requireExample('pg')
const { Worker } = requireExample('./pgq-worker.js')

function parseArgs (argv) {
  const args = { queue: null, wait: 1, lease: null, once: false }
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--wait') args.wait = Number(argv[++i])
    else if (argv[i] === '--lease') args.lease = Number(argv[++i])
    else if (argv[i] === '--once') args.once = true
    else args.queue = argv[i]
  }
  return args
}

async function main () {
  const args = parseArgs(process.argv.slice(2))
  const log = (...a) => console.error(new Date().toISOString(), `node[${process.pid}]`, ...a)
  const side = new pg.Client()
  await side.connect()

  const handler = async (job) => {
    await side.query(
      "insert into pgq_test_starts (queue, msg_id, attempt, pid, lang) values ($1, $2, $3, $4, 'node')",
      [args.queue, job.id, job.attempt, process.pid])
    const p = job.payload
    let seconds = p.sleep ?? 0
    if (job.attempt === 1 && p.sleep_first !== undefined) seconds = p.sleep_first
    await sleep(seconds * 1000, undefined, { signal: job.signal })
    if (p.fail !== undefined) throw new Error(p.fail)
    await job.finish((client) => client.query(
      'insert into pgq_test_results (queue, msg_id, attempt, pid, lang, backend_pid)' +
      " values ($1, $2, $3, $4, 'node', pg_backend_pid())",
      [args.queue, job.id, job.attempt, process.pid]))
  }

  const worker = new Worker({
    queue: args.queue, handler, log, waitSeconds: args.wait, leaseSeconds: args.lease
  })
  worker.installSignalHandlers()
  if (args.once) {
    const got = await worker.runOnce()
    log(`once: ${got ? 'handled a message' : 'nothing'}`)
    await worker.close()
  } else {
    await worker.run()
  }
  await side.end()
  process.exit(0)
}

main().catch((err) => { console.error(err); process.exit(1) })
