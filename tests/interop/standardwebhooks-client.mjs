// Signs deliveries with the official Standard Webhooks library and posts them to a Bulwark source, then prints one JSON
// line per case: { "case", "status", "body" }. Usage: node standardwebhooks-client.mjs BASE_URL SOURCE SECRET RUN_ID
import { Webhook } from "standardwebhooks";

const [baseUrl, source, secret, runId] = process.argv.slice(2);
const url = `${baseUrl}/v1/webhooks/${source}`;
const signer = new Webhook(secret);
const other = new Webhook("whsec_" + Buffer.from("a different secret of 32 bytes!!").toString("base64"));

function event(id) {
  return JSON.stringify({
    schema_version: "v1",
    id,
    source,
    platform: "internal",
    event_type: "password_reset",
    account_id: "acct_" + id,
    timestamp: new Date().toISOString(),
    details: { phase: "requested", channel: "email", note: "naïve — ünïcödé" },
  });
}

async function post(name, msgId, timestamp, payload, signature, headers = {}) {
  const response = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "webhook-id": msgId,
      "webhook-timestamp": String(Math.floor(timestamp.getTime() / 1000)),
      "webhook-signature": signature,
      ...headers,
    },
    body: payload,
  });
  console.log(JSON.stringify({ case: name, status: response.status, body: await response.text() }));
}

const now = new Date();
for (let i = 0; i < 5; i++) {
  const id = `msg_${runId}_${i}`;
  const payload = event(`${runId}_${i}`);
  await post(`signed-${i}`, id, now, payload, signer.sign(id, now, payload));
}

// The same delivery again (a platform retry): a duplicate, not a second event.
{
  const id = `msg_${runId}_0`;
  const payload = event(`${runId}_0`);
  await post("retry", id, now, payload, signer.sign(id, now, payload));
}

// Tampered body, tampered id, wrong secret, stale and future timestamps (signed correctly for that time).
{
  const id = `msg_${runId}_tampered`;
  const payload = event(`${runId}_tampered`);
  const signature = signer.sign(id, now, payload);
  await post("tampered-body", id, now, payload.replace("password_reset", "login_failed"), signature);
  await post("tampered-id", id + "x", now, payload, signature);
  await post("wrong-secret", id, now, payload, other.sign(id, now, payload));
  const stale = new Date(now.getTime() - 10 * 60 * 1000);
  await post("stale", id, stale, payload, signer.sign(id, stale, payload));
  const future = new Date(now.getTime() + 10 * 60 * 1000);
  await post("future", id, future, payload, signer.sign(id, future, payload));
  await post("no-signature", id, now, payload, "");
}

// The library's own verifier accepts what it signs (a sanity check of this script, not of Bulwark).
{
  const id = `msg_${runId}_self`;
  const payload = event(`${runId}_self`);
  const headers = { "webhook-id": id, "webhook-timestamp": String(Math.floor(now.getTime() / 1000)), "webhook-signature": signer.sign(id, now, payload) };
  signer.verify(payload, headers);
  console.log(JSON.stringify({ case: "self-verify", status: 0, body: "" }));
}
