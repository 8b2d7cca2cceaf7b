'use strict'
/*
 * A pgq worker with node-postgres.
 *
 *   const { Worker } = require('./pgq-worker')
 *   const worker = new Worker({
 *     queue: 'jobs',
 *     connection: { connectionString: 'postgres:///app' },  // pg.Client config ({} = PG* variables)
 *     handler: async (job) => { await sendEmail(job.payload.to) },   // throw to retry
 *   })
 *   worker.installSignalHandlers()
 *   await worker.run()
 *
 * The loop, one short statement each on its own connection (no transaction
 * stays open, no named prepared statements: it works through PgBouncer in
 * transaction pooling mode):
 *
 *   select * from pgq_consume('jobs', 1, wait => '10 s')   -- sleeps in the server
 *   ... the handler runs; a heartbeat calls pgq_extend(...) meanwhile ...
 *   select pgq_ack('jobs', id, attempt => 1)                 -- or pgq_nack(...)
 *
 * - The attempt returned by pgq_consume fences ack, nack and extend: once the
 *   lease is lost (expired and taken by another consumer, or reclaimed) they
 *   change nothing, so a stale worker never finishes someone else's message.
 * - A handler that throws gets its message nacked with the error's text
 *   (retried after the queue's retry_delay, dead after max_attempts).
 * - A heartbeat on a second connection extends the lease every third of its
 *   length while the handler runs.  It runs on the event loop: a handler that
 *   keeps the CPU busy for longer than that should move the work to a
 *   worker_threads Worker.  If the process dies the lease simply runs out
 *   and another worker gets the message (attempt + 1).
 * - job.finish(fn) gives exactly-once effects: fn's writes and the ack commit
 *   in one transaction, or not at all.
 * - SIGTERM / SIGINT: stop taking messages; the current job finishes and is
 *   acked (job.stopping tells the handler).  A second signal aborts
 *   job.signal and nacks the message for an immediate retry elsewhere.  A
 *   message is never lost either way.
 *
 * Try it:  node pgq-worker.js postgres:///app jobs
 * (the example handler logs each payload and waits payload.seconds).
 */

const net = require('node:net')
const { setTimeout: sleep } = require('node:timers/promises')
const pg = require('pg')

const CONSUME = 'select * from pgq_consume($1, 1, lock_duration => $2, wait => $3)'
const ACK = 'select pgq_ack($1, $2, attempt => $3) as ok'
const NACK = 'select pgq_nack($1, $2, error => $3, retry_after => $4, attempt => $5) as ok'
const EXTEND = 'select pgq_extend($1, $2, $3, attempt => $4) as until'
const QUEUE_LEASE = "select extract(epoch from lock_duration) as seconds from pgq_queues where queue = $1::regclass"

const STOPPED = 'worker stopped during the job'

class LeaseLost extends Error {}

class Worker {
  /**
   * @param {object} o
   * @param {string} o.queue          the queue's name, as regclass input reads it ('jobs', 'app.jobs')
   * @param {object} [o.connection]   pg.Client config ({} = the PG* variables)
   * @param {(job: Job) => Promise<void>} o.handler  resolves when done, rejects to retry
   * @param {number} [o.waitSeconds]  how long one pgq_consume may sleep in the server (10)
   * @param {number} [o.leaseSeconds] the lease a consume takes (default: the queue's lock_duration)
   * @param {number} [o.heartbeatSeconds] how often to extend the lease during a job (lease / 3)
   * @param {number} [o.retryAfterSeconds] nack delay (default: the queue's retry_delay back-off)
   * @param {(...args: any[]) => void} [o.log]
   */
  constructor ({ queue, connection = {}, handler, waitSeconds = 10, leaseSeconds = null,
    heartbeatSeconds = null, retryAfterSeconds = null, log = defaultLog }) {
    this.queue = queue
    this.connection = { application_name: `pgq-worker ${queue}`, ...connection }
    this.handler = handler
    this.waitSeconds = waitSeconds
    this.leaseSeconds = leaseSeconds
    this.heartbeatSeconds = heartbeatSeconds
    this.retryAfterSeconds = retryAfterSeconds
    this.log = log
    this.stopping = false
    this.client = null // consume, ack, nack, job.finish
    this.beatClient = null // the heartbeat's
    this.state = 'idle' // idle (maybe waiting in consume), handling, finishing
    this.current = null // the Job being handled
    this.leaseLength = null
    this.cancelling = null // a cancel request on its way
  }

  async connect () {
    const client = new pg.Client(this.connection)
    await client.connect()
    // An error on an idle client (server restart): forget it, reconnect later.
    client.on('error', (err) => {
      this.log(`connection error: ${err.message}`)
      if (this.client === client) this.client = null
      if (this.beatClient === client) this.beatClient = null
    })
    return client
  }

  async query (text, params) {
    if (this.client === null) this.client = await this.connect()
    return this.client.query(text, params)
  }

  installSignalHandlers () {
    const onSignal = (name) => {
      if (!this.stopping) {
        this.log(`${name}: stopping after the current job`)
        this.stop()
      } else if (this.state === 'handling' && this.current !== null) {
        this.log(`${name} again: abandoning the current job`)
        this.current.abort(STOPPED)
      }
    }
    process.on('SIGTERM', onSignal)
    process.on('SIGINT', onSignal)
  }

  /** Ask the loop to end; a consume sleeping in the server is cancelled. */
  stop () {
    this.stopping = true
    if (this.state === 'idle' && this.client !== null) {
      // The waiting pgq_consume ends with an error and its lease (if it
      // took one) rolls back.  Harmless when nothing runs.
      // close() waits for it: see cancelRequest.
      this.cancelling = cancelRequest(this.client).catch((err) => this.log(`cancel failed: ${err.message}`))
    }
  }

  /** Consume until stop() or a signal; reconnects after connection loss. */
  async run () {
    let backoff = 1
    try {
      while (!this.stopping) {
        try {
          await this.runOnce()
          backoff = 1
        } catch (err) {
          if (this.stopping) break
          this.log(`error: ${err.message}; retrying in ${backoff} s`)
          await this.close()
          await sleep(backoff * 1000)
          backoff = Math.min(backoff * 2, 30)
        }
      }
    } finally {
      await this.close()
    }
    this.log('stopped')
  }

  /** Wait up to waitSeconds for one message and handle it; false if none came. */
  async runOnce () {
    const job = await this.consume()
    if (job === null) return false
    await this.handle(job)
    return true
  }

  async consume () {
    if (this.leaseLength === null) this.leaseLength = this.leaseSeconds ?? await this.queueLease()
    this.state = 'idle'
    if (this.stopping) return null
    let rows
    try {
      ({ rows } = await this.query(CONSUME, [this.queue, interval(this.leaseSeconds), interval(this.waitSeconds)]))
    } catch (err) {
      if (err.code === '57014' && this.stopping) return null // stop() cancelled the wait
      throw err
    }
    if (rows.length === 0) return null
    return new Job(this, rows[0])
  }

  async queueLease () {
    const { rows } = await this.query(QUEUE_LEASE, [this.queue])
    if (rows.length === 0) throw new Error(`${this.queue} is not a pgq queue (or not readable)`)
    return Number(rows[0].seconds)
  }

  async handle (job) {
    this.current = job
    this.state = 'handling'
    const beat = new Heartbeat(this, job)
    job.beat = beat
    try {
      let failure = null
      try {
        // A forced stop does not wait for a handler that ignores job.signal.
        await Promise.race([this.handler(job), job.aborted])
      } catch (err) {
        failure = err
      }
      this.state = 'finishing'
      await beat.stop()
      if (job.abortReason === STOPPED) {
        await this.nack(job, STOPPED, 0)
        this.stopping = true
      } else if (job.leaseLost) {
        // Someone else has the message now; nothing of ours to finish.
      } else if (failure instanceof LeaseLost) {
        this.log(`job ${job.id} attempt ${job.attempt}: ${failure.message}`)
      } else if (failure !== null && !job.finished) {
        this.log(`job ${job.id} attempt ${job.attempt} failed: ${failure.message}`)
        await this.nack(job, errorText(failure), this.retryAfterSeconds)
      } else if (!job.finished) {
        const { rows } = await this.query(ACK, [this.queue, job.id, job.attempt])
        if (!rows[0].ok) this.log(`job ${job.id} attempt ${job.attempt}: lease lost, not acked`)
      }
    } finally {
      await beat.stop()
      this.current = null
      this.state = 'idle'
    }
  }

  async nack (job, error, retryAfterSeconds) {
    const { rows } = await this.query(NACK, [this.queue, job.id, error, interval(retryAfterSeconds), job.attempt])
    if (!rows[0].ok) this.log(`job ${job.id} attempt ${job.attempt}: lease lost, not nacked`)
  }

  async finishInTransaction (job, fn) {
    if (job.finished) throw new Error('job.finish() used twice')
    if (job.signal.aborted) throw new Error(`job ${job.id} was abandoned: ${job.abortReason}`)
    this.state = 'finishing' // a second signal no longer interrupts
    await job.beat.stop()
    if (this.client === null) this.client = await this.connect()
    const client = this.client
    await client.query('begin')
    try {
      const result = await fn(client)
      const { rows } = await client.query(ACK, [this.queue, job.id, job.attempt])
      if (!rows[0].ok) throw new LeaseLost(`lease of ${job.id} attempt ${job.attempt} was lost`)
      await client.query('commit')
      job.finished = true
      return result
    } catch (err) {
      // fn's writes roll back; the error, out of the handler, nacks the
      // message (or, for LeaseLost, leaves it to its new holder).
      await client.query('rollback').catch(() => {})
      throw err
    }
  }

  async extend (job) {
    if (this.beatClient === null) this.beatClient = await this.connect()
    const { rows } = await this.beatClient.query(EXTEND, [this.queue, job.id, interval(this.leaseLength), job.attempt])
    return rows[0].until
  }

  async close () {
    if (this.cancelling !== null) await this.cancelling
    for (const c of [this.client, this.beatClient]) {
      if (c !== null) await c.end().catch(() => {})
    }
    this.client = this.beatClient = null
  }
}

/** A leased message, handed to the handler. */
class Job {
  constructor (worker, row) {
    this.worker = worker
    this.id = row.id
    this.payload = row.payload
    this.metadata = row.metadata
    this.attempt = row.attempt // 1 on first delivery; the fencing token
    this.finished = false // acked through finish()
    this.leaseLost = false
    this.abortReason = null
    this.controller = new AbortController()
    // Settles (rejects) when the job is aborted: forced stop or lease lost.
    this.aborted = new Promise((resolve, reject) => {
      this.controller.signal.addEventListener('abort', () => reject(new Error(this.abortReason)))
    })
    this.aborted.catch(() => {})
  }

  /** Aborted on a forced stop (second signal) or when the lease was lost. */
  get signal () { return this.controller.signal }

  /** The worker was asked to stop: finish soon (or throw to retry elsewhere). */
  get stopping () { return this.worker.stopping }

  abort (reason) {
    if (this.signal.aborted) return
    this.abortReason = reason
    this.controller.abort(new Error(reason))
  }

  /**
   * Run fn(client) in a transaction on the worker's connection and ack the job
   * in it: fn's writes commit together with the ack, or not at all (LeaseLost
   * when the lease was lost).  Returns what fn returns.
   */
  finish (fn) { return this.worker.finishInTransaction(this, fn) }
}

/** Extends one job's lease on the event loop until stop(). */
class Heartbeat {
  constructor (worker, job) {
    this.worker = worker
    this.job = job
    this.running = null // the extend in progress
    this.stopped = false
    const every = worker.heartbeatSeconds ?? worker.leaseLength / 3
    this.timer = setInterval(() => this.tick(), Math.max(every, 0.05) * 1000)
  }

  tick () {
    if (this.stopped || this.running !== null) return
    const { worker, job } = this
    this.running = worker.extend(job).then((until) => {
      if (until === null && !this.stopped) {
        worker.log(`job ${job.id} attempt ${job.attempt}: lease lost`)
        job.leaseLost = true
        this.stopped = true
        clearInterval(this.timer)
        job.abort('lease lost')
      }
    }, (err) => {
      // Try again next beat, on a new connection: the lease still has two
      // thirds of its length to go.
      worker.log(`job ${job.id}: extending the lease failed: ${err.message}`)
      if (worker.beatClient !== null) worker.beatClient.end().catch(() => {})
      worker.beatClient = null
    }).finally(() => { this.running = null })
  }

  /** No extend after this resolves (waits for one in progress). */
  async stop () {
    this.stopped = true
    clearInterval(this.timer)
    if (this.running !== null) await this.running
  }
}

/**
 * A protocol-level CancelRequest for what `client` runs now (works through
 * PgBouncer).  Like libpq, it sends the request and then waits for the other
 * side to close the socket; the process must not exit before: a cancel
 * connection closed by the client first crashes PgBouncer 1.18 (Debian 12's;
 * pgbouncer issue #801, "bad client state: 0", fixed in later releases).
 */
function cancelRequest (client, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const host = client.host || 'localhost'
    const socket = host.startsWith('/')
      ? net.connect(`${host}/.s.PGSQL.${client.port}`)
      : net.connect(client.port, host)
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error('cancel request timed out')))
    socket.on('connect', () => {
      const msg = Buffer.alloc(16)
      msg.writeInt32BE(16, 0)
      msg.writeInt32BE(80877102, 4) // the cancel request code
      msg.writeInt32BE(client.processID, 8)
      msg.writeInt32BE(client.secretKey, 12)
      socket.write(msg)
    })
    socket.on('data', () => {}) // nothing is expected; the server just closes
    socket.on('end', () => socket.end())
    socket.on('close', resolve)
    socket.on('error', reject)
  })
}

function interval (seconds) {
  return seconds === null || seconds === undefined ? null : `${seconds} seconds`
}

function errorText (err) {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err)
}

function defaultLog (...args) {
  console.error(new Date().toISOString(), `[${process.pid}]`, ...args)
}

// ------------------------------------------------------------------ example

/** Logs the payload and waits payload.seconds (ends early when told to stop). */
async function exampleHandler (job) {
  defaultLog(`job ${job.id} attempt ${job.attempt}:`, JSON.stringify(job.payload))
  const seconds = Number(job.payload?.seconds ?? 0)
  await sleep(seconds * 1000, undefined, { signal: job.signal })
}

async function main () {
  const [connectionString, queue] = process.argv.slice(2)
  if (!queue) {
    console.error('usage: node pgq-worker.js CONNECTION_STRING QUEUE   ("" = the PG* variables)')
    process.exit(2)
  }
  const worker = new Worker({ queue, connection: connectionString ? { connectionString } : {}, handler: exampleHandler })
  worker.installSignalHandlers()
  await worker.run()
  process.exit(0) // also when a forced stop left an abandoned handler behind
}

if (require.main === module) {
  main().catch((err) => { console.error(err); process.exit(1) })
}

module.exports = { Worker, Job, LeaseLost, cancelRequest }
