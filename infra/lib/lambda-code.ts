// Where each service's Lambda package comes from.
//
// The C++ build (`make lambda`) writes one zip per service, `build/lambda/<service>.zip`,
// with the `bootstrap` executable at its root. `-c lambdaDir=DIR` points the app at
// another directory. In DIR, `<service>.zip` is used when present, else a directory
// `<service>/` holding `bootstrap` (the tests generate such directories with stub
// bootstraps; see test/support/stub-lambdas.ts). Missing code is an error, never a
// silent placeholder: a deploy must not ship something that is not the real service.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as lambda from 'aws-cdk-lib/aws-lambda';

export const DEFAULT_LAMBDA_DIR = path.resolve(__dirname, '..', '..', 'build', 'lambda');

export function lambdaCode(lambdaDir: string, service: string): lambda.Code {
  const zip = path.join(lambdaDir, `${service}.zip`);
  if (fs.existsSync(zip)) return lambda.Code.fromAsset(zip);
  const dir = path.join(lambdaDir, service);
  if (fs.existsSync(path.join(dir, 'bootstrap'))) return lambda.Code.fromAsset(dir);
  throw new Error(
    `no Lambda package for service "${service}": expected ${zip} (run \`make lambda\` at the repository root) ` +
      `or ${dir}/bootstrap; choose another directory with -c lambdaDir=DIR`,
  );
}
