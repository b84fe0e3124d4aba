// What the SDK client scripts share: reading the run's parameters from the environment (keys
// never go on a command line, where ps shows them) and turning results into plain JSON.

export function params() {
  const url = process.argv[2];
  const key = process.env.NUBIQ_API_KEY;
  if (!url || !key) {
    console.error("usage: NUBIQ_API_KEY=… NUBIQ_CALLS='[{\"tool\":…,\"arguments\":{…}}]' [NUBIQ_LIMITED_KEY=… NUBIQ_LIMITED_CALL='{…}'] node SCRIPT URL");
    process.exit(2);
  }
  return {
    url,
    key,
    calls: JSON.parse(process.env.NUBIQ_CALLS ?? "[]"),
    limitedKey: process.env.NUBIQ_LIMITED_KEY,
    limitedCall: process.env.NUBIQ_LIMITED_CALL ? JSON.parse(process.env.NUBIQ_LIMITED_CALL) : null,
  };
}

export function callResult(tool, result) {
  return {
    tool,
    isError: result.isError === true,
    text: result.content?.[0]?.type === "text" ? result.content[0].text : null,
    structuredContent: result.structuredContent ?? null,
  };
}

export function toolSummary(t) {
  return {
    name: t.name,
    readOnly: t.annotations?.readOnlyHint === true,
    hasOutputSchema: t.outputSchema != null,
  };
}

export function errorText(err) {
  return String(err?.message ?? err);
}
