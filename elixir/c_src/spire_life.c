/*
 * spire_life: the lifetime of :rocksdb's handles, as the BEAM sees it.
 *
 * The NIF this project replaces makes its handles resources, so a
 * database closes once no term references it. Only a NIF resource gets a
 * hook into garbage collection, so this is one, and nothing more: no
 * RocksDB, no I/O, no threads. A handle holds a copy of a key (which
 * engine, iterator, snapshot, ...) and of the handles it keeps alive (an
 * iterator keeps its database open). When the last reference to it is
 * gone, its destructor sends {'$spire_handle_gone', Key} to the process
 * that made it (the Registry), which closes what the key names, unless
 * disarm/1 said it was closed already.
 */
#include <erl_nif.h>

typedef struct {
    ErlNifPid owner;
    ErlNifMutex *lock;
    ErlNifEnv *env; /* holds key and held; NULL once disarmed */
    ERL_NIF_TERM key;
} life_t;

static ErlNifResourceType *LIFE;
static ERL_NIF_TERM ATOM_OK, ATOM_ALREADY, ATOM_GONE;

static void life_dtor(ErlNifEnv *caller_env, void *obj)
{
    life_t *h = obj;
    if (h->env != NULL) {
        ErlNifEnv *msg_env = enif_alloc_env();
        if (msg_env != NULL) {
            ERL_NIF_TERM msg = enif_make_tuple2(msg_env, ATOM_GONE, enif_make_copy(msg_env, h->key));
            enif_send(caller_env, &h->owner, msg_env, msg);
            enif_free_env(msg_env);
        }
        /* Frees the copies of the handles this one held: they may go next. */
        enif_free_env(h->env);
        h->env = NULL;
    }
    if (h->lock != NULL)
        enif_mutex_destroy(h->lock);
}

/* new(Owner, Key, Held) -> Handle */
static ERL_NIF_TERM life_new(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    ErlNifPid owner;
    if (argc != 3 || !enif_get_local_pid(env, argv[0], &owner))
        return enif_make_badarg(env);
    life_t *h = enif_alloc_resource(LIFE, sizeof(life_t));
    if (h == NULL)
        return enif_raise_exception(env, enif_make_atom(env, "enomem"));
    h->owner = owner;
    h->lock = enif_mutex_create("spire_life");
    h->env = enif_alloc_env();
    if (h->lock == NULL || h->env == NULL) {
        if (h->env != NULL)
            enif_free_env(h->env);
        h->env = NULL; /* the destructor sends nothing */
        enif_release_resource(h);
        return enif_raise_exception(env, enif_make_atom(env, "enomem"));
    }
    h->key = enif_make_copy(h->env, argv[1]);
    (void)enif_make_copy(h->env, argv[2]); /* kept in h->env until it is freed */
    ERL_NIF_TERM term = enif_make_resource(env, h);
    enif_release_resource(h); /* the term holds the only reference */
    return term;
}

/* disarm(Handle) -> ok | already: its key is closed; send nothing. */
static ERL_NIF_TERM life_disarm(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    life_t *h;
    if (argc != 1 || !enif_get_resource(env, argv[0], LIFE, (void **)&h))
        return enif_make_badarg(env);
    enif_mutex_lock(h->lock);
    ErlNifEnv *held = h->env;
    h->env = NULL;
    enif_mutex_unlock(h->lock);
    if (held == NULL)
        return ATOM_ALREADY;
    enif_free_env(held);
    return ATOM_OK;
}

/* armed(Handle) -> boolean() */
static ERL_NIF_TERM life_armed(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    life_t *h;
    if (argc != 1 || !enif_get_resource(env, argv[0], LIFE, (void **)&h))
        return enif_make_badarg(env);
    enif_mutex_lock(h->lock);
    int armed = h->env != NULL;
    enif_mutex_unlock(h->lock);
    return enif_make_atom(env, armed ? "true" : "false");
}

static int load(ErlNifEnv *env, void **priv, ERL_NIF_TERM info)
{
    (void)priv;
    (void)info;
    LIFE = enif_open_resource_type(env, NULL, "spire_life", life_dtor, ERL_NIF_RT_CREATE, NULL);
    ATOM_OK = enif_make_atom(env, "ok");
    ATOM_ALREADY = enif_make_atom(env, "already");
    ATOM_GONE = enif_make_atom(env, "$spire_handle_gone");
    return LIFE == NULL;
}

static ErlNifFunc funcs[] = {
    {"new", 3, life_new, 0},
    {"disarm", 1, life_disarm, 0},
    {"armed?", 1, life_armed, 0},
};

ERL_NIF_INIT(Elixir.Store.KV.RocksDB.Life, funcs, load, NULL, NULL, NULL)
