// Parses the AsyncAPI document given as argument with the official parser and prints every
// diagnostic. Exits 1 when the parser reports an error or a warning, 2 when it cannot read the file.
import { Parser, fromFile } from '@asyncapi/parser';

const SEVERITY = ['error', 'warning', 'info', 'hint'];

const path = process.argv[2];
if (!path) {
  console.error('usage: node validate.mjs <asyncapi document>');
  process.exit(2);
}

let parsed;
try {
  parsed = await fromFile(new Parser(), path).parse();
} catch (error) {
  console.error(`cannot read ${path}: ${error.message}`);
  process.exit(2);
}
const { document, diagnostics } = parsed;
for (const { severity, code, path: at, message } of diagnostics) {
  console.log(`${SEVERITY[severity]} ${code} at /${at.join('/')}: ${message}`);
}
const failing = diagnostics.filter(({ severity }) => severity <= 1);
if (document === undefined || failing.length > 0) {
  console.log(`invalid: ${failing.length} error(s) or warning(s) in ${path}`);
  process.exit(1);
}
console.log(`valid: AsyncAPI ${document.version()}, ${document.allMessages().length} messages, ${document.allOperations().length} operations`);
