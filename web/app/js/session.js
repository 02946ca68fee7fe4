// One Parse SDK setup for every page: same origin, LiveQuery over this origin's websocket, and a stale session
// (209) signs the user out instead of leaving a half-working page.

const Parse = window.Parse;
let ready = null;

export function setup() {
  if (!ready) {
    ready = fetch('config.json', { credentials: 'same-origin' })
      .then((response) => {
        if (!response.ok) throw new Error('The server did not send its configuration.');
        return response.json();
      })
      .then((config) => {
        Parse.initialize(config.appId, config.javascriptKey);
        Parse.serverURL = window.location.origin + config.mountPath;
        const ws = window.location.protocol === 'https:' ? 'wss://' : 'ws://';
        Parse.liveQueryServerURL = ws + window.location.host + config.mountPath;
        return Parse;
      });
  }
  return ready;
}

export const INVALID_SESSION = 209;

export async function signOut() {
  try {
    await Parse.User.logOut();
  } catch (_error) {
    // The session may already be gone on the server: the local copy is cleared either way.
  }
  window.location.assign('index.html');
}

// Every server call goes through here: a 209 means the stored session is dead, so sign out.
export async function call(promise) {
  try {
    return await promise;
  } catch (error) {
    if (error && error.code === INVALID_SESSION) {
      await signOut();
      return new Promise(() => {}); // the page is leaving
    }
    throw error;
  }
}

// The app roles of the signed-in user (roles are master-only rows, so the server's `myAccount` says).
export async function myRoles() {
  const account = await call(Parse.Cloud.run('myAccount'));
  return new Set(account.roles);
}

// The signed-in user, or back to the sign-in page. The page checks nothing else: the server decides access.
export async function requireUser() {
  await setup();
  const user = Parse.User.current();
  if (!user) {
    window.location.assign('index.html');
    return new Promise(() => {});
  }
  await call(user.fetch());
  return user;
}

export function idFromUrl(name) {
  const value = new URLSearchParams(window.location.search).get(name);
  return value && /^[A-Za-z0-9]{1,64}$/.test(value) ? value : null;
}

export function bindSignOut() {
  const button = document.getElementById('sign-out');
  if (button) button.addEventListener('click', () => signOut());
}

export { Parse };
