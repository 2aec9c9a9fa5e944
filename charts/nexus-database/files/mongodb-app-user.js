// Run once by the image's initdb on pod 0: the service user, readWrite on its own database only.
// Credentials come from the environment (a Secret), never from this file.
const appDb = db.getSiblingDB(process.env.MONGO_INITDB_DATABASE);
appDb.createUser({
  user: process.env.MONGO_APP_USERNAME,
  pwd: process.env.MONGO_APP_PASSWORD,
  roles: [{ role: "readWrite", db: process.env.MONGO_INITDB_DATABASE }],
});
