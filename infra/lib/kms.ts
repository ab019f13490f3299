// Customer managed KMS keys without wildcard actions in their key policies.
//
// `kms.Key` always adds the AWS default statement "account root may do kms:*", which lets
// IAM policies in the account grant use of the key. We keep that delegation (without it
// no IAM policy could grant anything on the key, and the key could become unmanageable)
// but list the actions explicitly: the administration actions CloudFormation and
// operators need, and the cryptographic operations a symmetric ENCRYPT_DECRYPT key
// supports. Asymmetric/HMAC operations, imported key material and multi-Region
// replication are left out because these keys use none of them.
import { IResolvable, IResolveContext, RemovalPolicy } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

export const KEY_ADMIN_ACTIONS: readonly string[] = [
  'kms:CancelKeyDeletion',
  'kms:CreateAlias',
  'kms:DeleteAlias',
  'kms:DescribeKey',
  'kms:DisableKey',
  'kms:DisableKeyRotation',
  'kms:EnableKey',
  'kms:EnableKeyRotation',
  'kms:GetKeyPolicy',
  'kms:GetKeyRotationStatus',
  'kms:ListGrants',
  'kms:ListKeyPolicies',
  'kms:ListKeyRotations',
  'kms:ListResourceTags',
  'kms:PutKeyPolicy',
  'kms:RotateKeyOnDemand',
  'kms:ScheduleKeyDeletion',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:UpdateAlias',
  'kms:UpdateKeyDescription',
];

export const KEY_USE_ACTIONS: readonly string[] = [
  'kms:CreateGrant',
  'kms:Decrypt',
  'kms:Encrypt',
  'kms:GenerateDataKey',
  'kms:GenerateDataKeyWithoutPlaintext',
  'kms:ReEncryptFrom',
  'kms:ReEncryptTo',
  'kms:RetireGrant',
  'kms:RevokeGrant',
];

/**
 * Explicit equivalents of the KMS wildcards that CDK constructs put in key policies (for
 * example secretsmanager.Secret's "use through Secrets Manager" statement), restricted to
 * the operations a symmetric encryption key is used for here. An unknown wildcard fails.
 */
export const KMS_WILDCARD_EXPANSIONS: Readonly<Record<string, readonly string[]>> = {
  'kms:GenerateDataKey*': ['kms:GenerateDataKey', 'kms:GenerateDataKeyWithoutPlaintext'],
  'kms:ReEncrypt*': ['kms:ReEncryptFrom', 'kms:ReEncryptTo'],
};

export function expandKmsWildcards(action: string | string[]): string | string[] {
  const list = Array.isArray(action) ? action : [action];
  if (!list.some((a) => a.includes('*'))) return action;
  const out = new Set<string>();
  for (const a of list) {
    if (!a.includes('*')) out.add(a);
    else if (KMS_WILDCARD_EXPANSIONS[a]) KMS_WILDCARD_EXPANSIONS[a].forEach((x) => out.add(x));
    else throw new Error(`key policy action ${a}: no explicit expansion known (add it to KMS_WILDCARD_EXPANSIONS)`);
  }
  return [...out].sort();
}

export interface OrderlyKeyProps {
  readonly description: string;
  readonly alias: string;
  readonly removalPolicy?: RemovalPolicy;
}

/** A rotating symmetric key whose account-root statement lists its actions explicitly. */
export function orderlyKey(scope: Construct, id: string, props: OrderlyKeyProps): kms.Key {
  const key = new kms.Key(scope, id, {
    description: props.description,
    alias: props.alias,
    enableKeyRotation: true,
    removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
  });
  const cfn = key.node.defaultChild as kms.CfnKey;
  // Every statement added to the key's policy document (grants, addToResourcePolicy)
  // still flows through; only the default root statement's "kms:*" is replaced.
  cfn.keyPolicy = new ExplicitRootActions(cfn.keyPolicy);
  return key;
}

class ExplicitRootActions implements IResolvable {
  readonly creationStack: string[] = [];
  constructor(private readonly policy: unknown) {}

  resolve(context: IResolveContext): unknown {
    const doc = context.resolve(this.policy) as { Statement: Array<Record<string, any>> };
    return {
      ...doc,
      Statement: doc.Statement.map((s) => {
        // The only "kms:*" statement is the one kms.Key adds for the account root.
        if (s.Action === 'kms:*' && s.Principal?.AWS !== undefined && s.Condition === undefined) {
          return { ...s, Sid: 'AccountAdministersAndDelegatesToIam', Action: [...KEY_ADMIN_ACTIONS, ...KEY_USE_ACTIONS].sort() };
        }
        return { ...s, Action: expandKmsWildcards(s.Action) };
      }),
    };
  }

  toString(): string {
    return 'ExplicitRootActions';
  }
}
