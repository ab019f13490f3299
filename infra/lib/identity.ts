// Identity on AWS: one Cognito user pool per stage, the `orderly` resource server with the
// OAuth scopes of schemas/openapi.yaml, and three app clients with disjoint jobs:
//
//   customer  people. Authorization code grant with PKCE through the hosted UI; a public
//             client (no secret); the token's `sub` is the user, i.e. the customer. Scopes:
//             the ones the protected routes name (orders:read, orders:write), never admin.
//   machine   a program acting as one customer (a partner integration, the post-deploy
//             smoke test): client credentials, `sub` = the client. Same customer scopes.
//   admin     operators: client credentials with the admin scope only. Its secret is
//             readable only with cognito-idp:DescribeUserPoolClient, i.e. by IAM principals
//             allowed to administer the pool.
//
// Cognito issues a client only the scopes in its AllowedOAuthScopes, so admin cannot be
// obtained through the customer or machine client whatever a caller asks for. Admin is a
// client and not a Cognito group: a group lands in `cognito:groups`, not in `scope`, and both
// API Gateway's authorizer and the C++ router (platform::http) decide on scopes; mapping a
// group to a scope needs a pre-token-generation Lambda, i.e. more code with admin power.
import { Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import { Construct } from 'constructs';
import { ApiSpec } from './openapi';
import { StageNames, validateCognitoDomainPrefix } from './naming';

/** Cognito writes resource-server scopes as `<identifier>/<name>`: `orderly/orders:read`. */
export const RESOURCE_SERVER_ID = 'orderly';
export const DEFAULT_CALLBACK_URLS: readonly string[] = ['http://localhost:3000/callback'];
export const DEFAULT_LOGOUT_URLS: readonly string[] = ['http://localhost:3000/'];
export const ACCESS_TOKEN_VALIDITY = Duration.hours(1);
export const CUSTOMER_REFRESH_TOKEN_VALIDITY = Duration.days(7);
/**
 * Only refresh-token sign-in, on every client: users sign in through the hosted UI, never by
 * sending a password to InitiateAuth (no USER_PASSWORD_AUTH, USER_SRP_AUTH, CUSTOM_AUTH or
 * ADMIN_USER_PASSWORD_AUTH on any client). Leaving the list unset would enable SRP and custom.
 */
export const EXPLICIT_AUTH_FLOWS = ['ALLOW_REFRESH_TOKEN_AUTH'];

/** Scopes a customer needs: every scope a protected route names, except the super scope. */
export function customerScopes(api: ApiSpec): string[] {
  const named = new Set(api.routes.filter((r) => !r.isPublic).flatMap((r) => r.scopes));
  if (api.superScope) named.delete(api.superScope);
  if (named.size === 0) throw new Error('openapi: no protected route names a customer scope');
  return [...named].sort();
}

/**
 * The machine client is a customer that is a program (its orders belong to the client id):
 * it places orders and reads them back, so it gets the customer scopes and nothing else.
 * It never gets admin: whoever holds its secret must not be able to read every customer's
 * orders or change the catalogue.
 */
export function machineScopes(api: ApiSpec): string[] {
  return customerScopes(api);
}

/** The admin client: the super scope only ("admin grants every scope", openapi.yaml). */
export function adminScopes(api: ApiSpec): string[] {
  if (!api.superScope) throw new Error('openapi: no admin scope declared, so there is no admin client to make');
  return [api.superScope];
}

/** `a,b` (context value) -> ['a', 'b']; undefined stays undefined (use the default). */
export function splitList(value: string | undefined): string[] | undefined {
  return value === undefined ? undefined : value.split(',').map((u) => u.trim()).filter(Boolean);
}

/** Redirect URLs as Cognito accepts them: https, or http for localhost only; no fragment. */
export function validateRedirectUrls(urls: readonly string[], what: string): string[] {
  if (urls.length === 0) throw new Error(`${what}: no URL given`);
  for (const u of urls) {
    let parsed: URL;
    try {
      parsed = new URL(u);
    } catch {
      throw new Error(`${what}: "${u}" is not a URL`);
    }
    if (parsed.hash) throw new Error(`${what}: "${u}" has a fragment, which Cognito refuses`);
    if (parsed.protocol === 'http:' && parsed.hostname !== 'localhost') {
      throw new Error(`${what}: "${u}": Cognito accepts http only for localhost; use https`);
    }
  }
  return [...urls];
}

export interface IdentityProps {
  readonly names: StageNames;
  readonly api: ApiSpec;
  /** Hosted-domain prefix; default `orderly-<stage>-<account id>`. */
  readonly domainPrefix?: string;
  /** Where the hosted UI may send the customer back with a code. Default DEFAULT_CALLBACK_URLS. */
  readonly callbackUrls?: readonly string[];
  /** Where the hosted UI's /logout may send the customer. Default DEFAULT_LOGOUT_URLS. */
  readonly logoutUrls?: readonly string[];
  /** Customers register themselves (default true); false: only operators create users. */
  readonly selfSignUp?: boolean;
}

export class Identity extends Construct {
  readonly userPool: cognito.UserPool;
  readonly resourceServer: cognito.UserPoolResourceServer;
  readonly customerClient: cognito.UserPoolClient;
  readonly machineClient: cognito.UserPoolClient;
  readonly adminClient: cognito.UserPoolClient;
  readonly domain: cognito.UserPoolDomain;
  /** Every client whose access tokens the API accepts. */
  readonly clients: cognito.UserPoolClient[];

  constructor(scope: Construct, id: string, props: IdentityProps) {
    super(scope, id);
    const { names, api } = props;

    this.userPool = new cognito.UserPool(this, 'UserPool', {
      userPoolName: names.userPoolName,
      // Customers sign up with their e-mail address, which Cognito verifies with a code
      // before the first sign-in (Cognito's own e-mail sender: 50 messages a day; configure
      // SES for production volumes).
      selfSignUpEnabled: props.selfSignUp ?? true,
      signInAliases: { email: true },
      signInCaseSensitive: false,
      autoVerify: { email: true },
      standardAttributes: { email: { required: true, mutable: true } },
      passwordPolicy: {
        minLength: 14,
        requireDigits: true,
        requireLowercase: true,
        requireUppercase: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(1),
      },
      // Every user sets up an authenticator app (TOTP) at the first sign-in; the hosted UI
      // shows the QR code. No SMS (cost, SIM swapping).
      mfa: cognito.Mfa.REQUIRED,
      mfaSecondFactor: { otp: true, sms: false },
      // A forgotten password is reset by a code sent to the verified address; the second
      // factor is still required at the next sign-in. A lost authenticator is reset by an
      // operator (docs/operations.md).
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      featurePlan: cognito.FeaturePlan.ESSENTIALS,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    const scopes = Object.entries(api.scopes).map(
      ([scopeName, scopeDescription]) => new cognito.ResourceServerScope({ scopeName, scopeDescription: scopeDescription.slice(0, 256) }),
    );
    this.resourceServer = this.userPool.addResourceServer('ResourceServer', {
      identifier: RESOURCE_SERVER_ID,
      userPoolResourceServerName: `Orderly API ${names.stage}`,
      scopes,
    });
    const oauthScopes = (wanted: readonly string[]) =>
      wanted.map((name) => {
        const s = scopes.find((x) => x.scopeName === name);
        if (!s) throw new Error(`scope ${name} is not declared by openapi.yaml`);
        return cognito.OAuthScope.resourceServer(this.resourceServer, s);
      });

    this.customerClient = this.userPool.addClient('CustomerClient', {
      userPoolClientName: names.userPoolClientName('customer'),
      // A browser or mobile app cannot keep a secret: a public client, which must use PKCE
      // (code_challenge with S256) to redeem its codes.
      generateSecret: false,
      oAuth: {
        flows: { authorizationCodeGrant: true },
        scopes: [cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, ...oauthScopes(customerScopes(api))],
        callbackUrls: validateRedirectUrls(props.callbackUrls ?? DEFAULT_CALLBACK_URLS, 'customerCallbackUrls'),
        logoutUrls: validateRedirectUrls(props.logoutUrls ?? DEFAULT_LOGOUT_URLS, 'customerLogoutUrls'),
      },
      supportedIdentityProviders: [cognito.UserPoolClientIdentityProvider.COGNITO],
      accessTokenValidity: ACCESS_TOKEN_VALIDITY,
      idTokenValidity: ACCESS_TOKEN_VALIDITY,
      refreshTokenValidity: CUSTOMER_REFRESH_TOKEN_VALIDITY,
      enableTokenRevocation: true,
      preventUserExistenceErrors: true,
    });

    const credentialsClient = (id: string, kind: string, wanted: string[]) =>
      this.userPool.addClient(id, {
        userPoolClientName: names.userPoolClientName(kind),
        generateSecret: true,
        oAuth: { flows: { clientCredentials: true }, scopes: oauthScopes(wanted) },
        accessTokenValidity: ACCESS_TOKEN_VALIDITY,
        enableTokenRevocation: true,
        preventUserExistenceErrors: true,
      });
    this.machineClient = credentialsClient('MachineClient', 'machine', machineScopes(api));
    this.adminClient = credentialsClient('AdminClient', 'admin', adminScopes(api));
    this.clients = [this.customerClient, this.machineClient, this.adminClient];
    for (const c of this.clients) (c.node.defaultChild as cognito.CfnUserPoolClient).explicitAuthFlows = [...EXPLICIT_AUTH_FLOWS];

    // Hosted UI (/login, /oauth2/authorize) and the token endpoint.
    const account = Stack.of(this).account;
    const domainPrefix =
      props.domainPrefix !== undefined
        ? validateCognitoDomainPrefix(props.domainPrefix, names.stage)
        : names.defaultCognitoDomainPrefix(account, Token.isUnresolved(account));
    this.domain = this.userPool.addDomain('Domain', { cognitoDomain: { domainPrefix } });
  }
}
