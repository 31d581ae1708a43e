// What the server adds to every fastify request. Imported for its type augmentation by every
// module that hands requests around.

declare module 'fastify' {
  interface FastifyRequest {
    /** The API version this request is served at (its /vX.Y prefix, or the newest). */
    apiVersion: string;
  }
}

export {};
