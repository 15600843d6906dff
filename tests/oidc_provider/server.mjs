// A real OpenID provider for tests/unit/test_oidc_provider.py: client credentials, JWT access
// tokens for the audience "emining" with the caller's roles, on the port given.
import Provider from "oidc-provider";

const port = Number(process.argv[2]);
const issuer = `http://127.0.0.1:${port}`;
const provider = new Provider(issuer, {
  clients: [
    {
      client_id: "mcc-erp",
      client_secret: "a-test-secret-for-the-erp-client",
      grant_types: ["client_credentials"],
      redirect_uris: [],
      response_types: [],
    },
  ],
  features: {
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => "urn:emining:api",
      getResourceServerInfo: () => ({
        scope: "read",
        audience: "emining",
        accessTokenFormat: "jwt",
        jwt: { sign: { alg: "RS256" } },
      }),
    },
  },
  extraTokenClaims: async () => ({ roles: ["officer"] }),
});
provider.listen(port, "127.0.0.1", () => {
  console.log(`ready ${issuer}`);
});
