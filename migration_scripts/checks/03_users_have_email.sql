-- Health check: every live user account has an email address.
--
-- The API logs users in and resets passwords by email; an account without
-- one is locked out for good. users.email is NOT NULL with a format check
-- today, so this guards against a later migration relaxing either.
-- Written as a DO block because users does not exist before 001 or after
-- rolling it back.
DO $$
DECLARE
    without_email bigint;
BEGIN
    IF to_regclass('public.users') IS NULL THEN
        RETURN;
    END IF;
    EXECUTE $q$SELECT count(*) FROM public.users
               WHERE deleted_at IS NULL AND (email IS NULL OR btrim(email) = '')$q$
        INTO without_email;
    IF without_email > 0 THEN
        RAISE EXCEPTION '% live user account(s) have no email address', without_email;
    END IF;
END
$$;
