-- Back to the whole SHA-256 as fact_key: recomputed from each fact's
-- canonical encoding (predicate, arity, then each argument's type and id,
-- each string prefixed by its length in bytes as an unsigned varint), as
-- Castellan before migration 12 computed it.
CREATE FUNCTION pg_temp.castellan_uvarint(n bigint) RETURNS bytea LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    out bytea := '\x'::bytea;
BEGIN
    WHILE n >= 128 LOOP
        out := out || set_byte('\x00'::bytea, 0, ((n & 127) | 128)::int);
        n := n >> 7;
    END LOOP;
    RETURN out || set_byte('\x00'::bytea, 0, n::int);
END $$;
CREATE FUNCTION pg_temp.castellan_string(s text) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
    SELECT pg_temp.castellan_uvarint(octet_length(convert_to(s, 'UTF8'))) || convert_to(s, 'UTF8')
$$;
CREATE FUNCTION pg_temp.castellan_fact_key(predicate text, arity integer, arg_types text[], arg_ids text[]) RETURNS bytea LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    b bytea := pg_temp.castellan_string(predicate) || pg_temp.castellan_uvarint(arity);
BEGIN
    FOR i IN 1 .. arity LOOP
        b := b || pg_temp.castellan_string(arg_types[i]) || pg_temp.castellan_string(arg_ids[i]);
    END LOOP;
    RETURN sha256(b);
END $$;
ALTER TABLE facts ALTER COLUMN fact_key TYPE bytea USING pg_temp.castellan_fact_key(predicate, arity, arg_types, arg_ids);
