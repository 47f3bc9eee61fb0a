/**
 * The current run kept in the browser (IndexedDB), so that a reload loses
 * nothing: weights and optimizer moments as typed arrays, metrics, rankings,
 * loaded datasets. Structured clone keeps the Float32Arrays and Maps (and
 * shared references: a policy that is also the reference is stored once).
 */
const DB_NAME = 'webgpu-rlhf-demo';
const STORE = 'runs';
const KEY = 'current';

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error('IndexedDB: could not open the database'));
  });
}

async function transact<T>(mode: IDBTransactionMode, work: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const request = work(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = () => reject(tx.error ?? new Error('IndexedDB: the transaction failed'));
      tx.onabort = () => reject(tx.error ?? new Error('IndexedDB: the transaction was aborted (storage full?)'));
    });
  } finally {
    db.close();
  }
}

/** The saved run: its small state and its weights, kept under two keys so that metrics can be saved often. */
export async function loadRun<T extends object>(): Promise<T | undefined> {
  const state = (await transact('readonly', (s) => s.get(KEY))) as T | undefined;
  const weights = (await transact('readonly', (s) => s.get(`${KEY}:weights`))) as Partial<T> | undefined;
  return state ? { ...state, ...weights } : undefined;
}

export async function saveRun(state: object, weights?: object): Promise<void> {
  await transact('readwrite', (s) => s.put(state, KEY));
  if (weights) await transact('readwrite', (s) => s.put(weights, `${KEY}:weights`));
}

export async function clearRun(): Promise<void> {
  await transact('readwrite', (s) => s.delete(KEY));
  await transact('readwrite', (s) => s.delete(`${KEY}:weights`));
}
