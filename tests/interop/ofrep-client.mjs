// Evaluates flags against a live Bulwark server through the official OpenFeature JS server SDK and OFREP provider.
// Usage: node ofrep-client.mjs BASE_URL TOKEN TARGETING_KEY FLAG... → prints one JSON line per flag with the details.
import { OpenFeature } from '@openfeature/server-sdk';
import { OFREPProvider } from '@openfeature/ofrep-provider';

const [baseUrl, token, targetingKey, ...flags] = process.argv.slice(2);
await OpenFeature.setProviderAndWait(new OFREPProvider({ baseUrl, headers: [['Authorization', `Bearer ${token}`]] }));
const client = OpenFeature.getClient();
for (const flag of flags) {
  const details = await client.getBooleanDetails(flag, true, { targetingKey, plan: 'pro', region: 'eu-west' });
  console.log(JSON.stringify({ key: flag, value: details.value, reason: details.reason, variant: details.variant ?? null, errorCode: details.errorCode ?? null }));
}
await OpenFeature.close();
