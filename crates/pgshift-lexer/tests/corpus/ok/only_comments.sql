-- just a comment; nothing to run
/* and a block; comment */

