// Teach a running MongoDB replica set its next credentials, logged in as root with what it takes now (the
// rotation Job of components/rotation.py, run by `mongosh --nodb`; it runs before the Secret the clients read
// changes). The service login alternates between the service user and `<user>_alt` (same roles), so the login
// clients hold now keeps working until the next rotation; root changes last.
//
// Environment (passwords only in the environment, never in argv):
//   MONGODB_URI            the replica set (mongodb://host:port,.../admin?replicaSet=...)
//   ROOT_USER, CURRENT_ROOT_PASSWORD, NEXT_ROOT_PASSWORD
//                          CURRENT_ROOT_PASSWORD is unset while the live Secret does not exist (a new stack: the
//                          database will be initialised with the next credentials; nothing to rotate)
//   APP_DATABASE, APP_BASE_USER, APP_USER, NEXT_APP_PASSWORD
//   TLS_CA_FILE            set while the replica set offers TLS (the server Secret's ca.crt): connect over TLS,
//                          the members' names checked against that CA
// Idempotent: run again after a kill, root is tried with the next password first and the user is updated to
// what it should be.
const env = process.env;
const log = (message) => print(`${new Date().toISOString()} rotate-mongodb: ${message}`);
const uri = env.TLS_CA_FILE
  ? `${env.MONGODB_URI}${env.MONGODB_URI.includes("?") ? "&" : "?"}tls=true&tlsCAFile=${env.TLS_CA_FILE}`
  : env.MONGODB_URI;

function rootSession(password) {
  try {
    const connection = new Mongo(uri);
    connection.getDB("admin").auth(env.ROOT_USER, password);
    return connection;
  } catch (error) {
    return null;
  }
}

function rotate() {
  if (env.CURRENT_ROOT_PASSWORD === undefined) {
    log("no live credentials Secret yet: the database will be created with the next credentials; nothing to rotate");
    return 0;
  }
  let connection = null;
  let rootPassword = null;
  const attempts = parseInt(env.ATTEMPTS || "6", 10);
  for (let attempt = 1; attempt <= attempts && connection === null; attempt++) {
    for (const candidate of [env.NEXT_ROOT_PASSWORD, env.CURRENT_ROOT_PASSWORD]) {
      if (candidate && (connection = rootSession(candidate)) !== null) {
        rootPassword = candidate;
        break;
      }
    }
    if (connection === null && attempt < attempts) {
      log(`attempt ${attempt}: the replica set takes neither root password yet; retrying`);
      sleep(parseInt(env.RETRY_SECONDS || "5", 10) * 1000);
    }
  }
  if (connection === null) {
    log("the replica set takes neither the current nor the next root password: refusing to change anything");
    return 1;
  }
  const appDb = connection.getDB(env.APP_DATABASE);
  const roles = [{ role: "readWrite", db: env.APP_DATABASE }];
  if (appDb.getUser(env.APP_USER) === null) {
    log(`creating login ${env.APP_USER} (as ${env.APP_BASE_USER}: readWrite on ${env.APP_DATABASE})`);
    appDb.createUser({ user: env.APP_USER, pwd: env.NEXT_APP_PASSWORD, roles });
  } else {
    log(`setting the password of login ${env.APP_USER}`);
    appDb.updateUser(env.APP_USER, { pwd: env.NEXT_APP_PASSWORD, roles });
  }
  if (env.NEXT_ROOT_PASSWORD && rootPassword !== env.NEXT_ROOT_PASSWORD) {
    log("setting the root password");
    connection.getDB("admin").changeUserPassword(env.ROOT_USER, env.NEXT_ROOT_PASSWORD);
  }
  // Verify the next credentials by logging in with them.
  const check = new Mongo(uri);
  check.getDB(env.APP_DATABASE).auth(env.APP_USER, env.NEXT_APP_PASSWORD);
  if (env.NEXT_ROOT_PASSWORD) {
    new Mongo(uri).getDB("admin").auth(env.ROOT_USER, env.NEXT_ROOT_PASSWORD);
  }
  log("done: the replica set takes the next credentials");
  return 0;
}

quit(rotate());
