'use strict'
/*
 * Publishing with pgq from Node: the transactional outbox.
 *
 * pgq_publish runs in the caller's transaction.  Write the business row and
 * publish its message in one transaction: both commit, or neither does.
 *
 *   await client.query('begin')
 *   const { rows } = await client.query('insert into orders ... returning id', [...])
 *   await client.query('select pgq_publish($1, $2)', ['jobs', JSON.stringify({ order_id: rows[0].id })])
 *   await client.query('commit')
 *
 * Try it:  node producer.js postgres:///app jobs
 * It creates table `orders` if missing, stores two orders with their
 * messages, and shows that an order whose transaction fails after
 * publishing leaves neither an order nor a message behind.
 */

const pg = require('pg')

const ORDERS_DDL = `
create table if not exists orders (
    id bigint generated always as identity primary key,
    customer text not null,
    amount numeric not null,
    created_at timestamptz not null default now()
)`

/** Publish one message in the client's current transaction; resolves to its id. */
async function publish (client, queue, payload, metadata = {}) {
  const { rows } = await client.query('select pgq_publish($1, $2, $3) as id',
    [queue, JSON.stringify(payload), JSON.stringify(metadata)])
  return rows[0].id
}

/** Run fn(client) in a transaction: commit if it resolves, roll back if it throws. */
async function inTransaction (client, fn) {
  await client.query('begin')
  try {
    const result = await fn(client)
    await client.query('commit')
    return result
  } catch (err) {
    await client.query('rollback')
    throw err
  }
}

/** Store an order and publish "order placed", atomically; resolves to the order id. */
function placeOrder (client, queue, customer, amount, { failAfterPublish = false } = {}) {
  return inTransaction(client, async () => {
    const { rows } = await client.query(
      'insert into orders (customer, amount) values ($1, $2) returning id', [customer, amount])
    const orderId = Number(rows[0].id)
    await publish(client, queue, { event: 'order_placed', order_id: orderId, customer, amount },
      { type: 'order_placed' })
    if (failAfterPublish) {
      // Anything that fails before the commit rolls back the order and its
      // message together.
      throw new Error(`payment for ${customer} declined`)
    }
    return orderId
  })
}

async function main () {
  const [connectionString, queue] = process.argv.slice(2)
  if (!queue) {
    console.error('usage: node producer.js CONNECTION_STRING QUEUE   ("" = the PG* variables)')
    process.exit(2)
  }
  // node-postgres uses unnamed statements unless a query is given a name, so
  // this also works through PgBouncer's transaction pooling.
  const client = new pg.Client(connectionString ? { connectionString } : {})
  await client.connect()
  try {
    await client.query(ORDERS_DDL)
    for (const [customer, amount] of [['alice', 12.5], ['bob', 99]]) {
      const orderId = await placeOrder(client, queue, customer, amount)
      console.log(`order ${orderId} for ${customer}: stored and published`)
    }
    try {
      await placeOrder(client, queue, 'mallory', 1, { failAfterPublish: true })
    } catch (err) {
      console.log(`order for mallory: ${err.message}; rolled back, nothing published`)
    }
    const { rows: [t] } = await client.query('select $1::regclass::text as name', [queue])
    const { rows: [c] } = await client.query(
      "select (select count(*) from orders where customer = 'mallory') as orders," +
      ` (select count(*) from ${t.name} where payload->>'customer' = 'mallory') as messages`)
    console.log(`mallory: ${c.orders} orders, ${c.messages} messages`)
  } finally {
    await client.end()
  }
}

if (require.main === module) {
  main().catch((err) => { console.error(err); process.exit(1) })
}

module.exports = { publish, inTransaction, placeOrder }
